"""Every ORM model, one file per table; importing this package registers them all on ``Base``."""

from app.models.band import Band
from app.models.band_membership import BandMembership
from app.models.change import ChangeRow, ChangeStatus, Entity
from app.models.credential import Credential
from app.models.erased_student import ErasedStudent
from app.models.mis_class import MisClass
from app.models.mis_group import MisGroup
from app.models.mis_membership import MisMembership
from app.models.mis_record_issue import MisRecordIssue
from app.models.mis_student import MisStudent
from app.models.pupil import Pupil
from app.models.school import School
from app.models.sync_run import SyncRun
from app.models.uploader_decision import UploaderDecision
from app.models.webhook_event import WebhookEvent

__all__ = [
    "Band",
    "BandMembership",
    "ChangeRow",
    "ChangeStatus",
    "Credential",
    "Entity",
    "ErasedStudent",
    "MisClass",
    "MisGroup",
    "MisMembership",
    "MisRecordIssue",
    "MisStudent",
    "Pupil",
    "School",
    "SyncRun",
    "UploaderDecision",
    "WebhookEvent",
]
