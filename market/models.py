"""Every model module, imported once so Alembic and the app see the whole schema."""

from market.accounts import models as accounts_models  # noqa: F401
from market.brokers import models as brokers_models  # noqa: F401
from market.calls import models as calls_models  # noqa: F401
from market.commissioners import models as commissioners_models  # noqa: F401
from market.contracts import models as contracts_models  # noqa: F401
from market.core import audit, outbox  # noqa: F401
from market.evaluations import models as evaluations_models  # noqa: F401
from market.filings import models as filings_models  # noqa: F401
from market.listings import models as listings_models  # noqa: F401
from market.matching import models as matching_models  # noqa: F401
from market.monitoring import models as monitoring_models  # noqa: F401
from market.stats import models as stats_models  # noqa: F401
from market.subsidies import models as subsidies_models  # noqa: F401
from market.vouchers import models as vouchers_models  # noqa: F401
