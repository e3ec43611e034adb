from . import regnakes_service
from . import regnakes_profession
from . import regnakes_batch
from . import res_config_settings
