from . import regnakes_service
from . import regnakes_profession
from . import regnakes_batch
from . import res_config_settings
from . import regnakes_key
from . import regnakes_notification_seen
