"""The parts of the songs service, each concern in its own module; service.py builds the app
from them and holds the routes and handlers. Imports run one way, from service.py down to
storage; none of these modules imports service.py."""
