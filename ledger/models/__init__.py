# The ledger's models are split by concern; each module owns its own tables.
from ledger.models.accounts import *  # noqa: F401,F403
from ledger.models.chain import *  # noqa: F401,F403
from ledger.models.records import *  # noqa: F401,F403
