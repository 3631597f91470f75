"""policybot: answers staff questions from the organisation's policies and takes private reports."""

__version__ = "0.1.0"
