"""Quality gates: Great Expectations suites that a gold table must pass before it becomes visible."""
