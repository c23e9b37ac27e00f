"""SQLModel tables and the schemas of what comes in and goes out.

Imports nothing of ours: the engine (``matcher``) and the application (``api``)
depend on these, never the other way.
"""

from models.audit import AuditEvent
from models.demand import Demand
from models.job import JobLock, JobRun, PendingMatch
from models.mail import MailedRecommendation, MailPreference, OutboxMessage
from models.match_run import MatchRun
from models.organization import Organization
from models.pairing import Pairing, PairingDecision
from models.project import ProgressReport, Project, ProjectChange
from models.recommendation import Recommendation
from models.review import DemandAlias, DemandEntry, OrganizationAlias, ReviewFlag
from models.text_vector import TextVector
from models.token_cache import TokenCache
from models.user import User

__all__ = [
    "AuditEvent", "Demand", "DemandAlias", "DemandEntry", "JobLock", "JobRun", "MailPreference", "MailedRecommendation",
    "MatchRun", "Organization", "OrganizationAlias", "OutboxMessage", "Pairing", "PairingDecision", "PendingMatch",
    "ProgressReport", "Project", "ProjectChange", "Recommendation", "ReviewFlag", "TextVector", "TokenCache", "User",
]
