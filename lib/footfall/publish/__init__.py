"""Gold: aggregates of silver stays, before disclosure control and publication (issue 7, in progress)."""
