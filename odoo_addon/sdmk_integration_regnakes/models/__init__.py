from . import regnakes_client
from . import regnakes_batch
from . import res_config_settings
