"""Staff side: lifecycle API, agency scoping, SLA, notifications, monitoring figures."""
