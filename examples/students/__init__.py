"""Students in cohorts, and persons (4Geeks Academy): generated routes beside a custom one."""
