from . import regnakes_sync_wizard
from . import regnakes_enable_wizard
from . import regnakes_retry_wizard
