from . import test_token
