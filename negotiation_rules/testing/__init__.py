"""Tools for testing rulesets: hypothesis strategies (``negotiation_rules.testing.strategies``)."""
