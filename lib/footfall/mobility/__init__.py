"""Mobility: presence in zones, stays and visits, arrival direction, home area, repeat visits, flows."""
