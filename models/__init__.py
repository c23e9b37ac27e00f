"""SQLModel tables and the schemas of what comes in and goes out.

Imports nothing of ours: the engine (``matcher``) and the application (``api``)
depend on these, never the other way.
"""

from models.demand import Demand
from models.match_run import MatchRun
from models.organization import Organization
from models.pairing import Pairing, PairingDecision
from models.recommendation import Recommendation
from models.user import User

__all__ = ["Demand", "MatchRun", "Organization", "Pairing", "PairingDecision", "Recommendation", "User"]
