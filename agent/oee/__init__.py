"""OEE: availability x performance x quality per shift, from events (a pure core).

```python
from agent.oee import compute_oee, OeeReport
report = compute_oee(events, config, start=None, end=None, observed_until=None)
report.to_json()  # the contract's OEE output
```
"""

from agent.oee.engine import compute_oee, report_from_shifts
from agent.oee.report import HourOee, OeeReport, ShiftOee, Tally

__all__ = ["HourOee", "OeeReport", "ShiftOee", "Tally", "compute_oee", "report_from_shifts"]
