from . import test_mirror
from . import test_notify
from . import test_roles
from . import test_tour
from . import test_before_and_after
from . import test_keys
from . import test_live_dashboard
from . import test_review
