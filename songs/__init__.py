"""The parts of the songs service, each concern in its own module; service.py builds the app
from them and holds the routes and handlers. Imports run one way, from service.py down to
storage (and metrics.py, which storage counts in); none imports service.py."""

__version__ = "1.0.0"
