"""Access: who may do what (the policy, with roles per class), the teacher's password behind a back-off, one owner id
per signed-in person, and the deployment's sign-in rules (who is a teacher or the admin once signed in).

The lowest layer beside resources: it imports nothing from the rest of explorer, so the job manager, the
classroom and the pages all ask the same rules.
"""
from .identity import owner_for
from .policy import POLICY, Action, Actor, Policy, Role
from .signin import Door, SignedIn, SignInRules
from .teacher import TeacherGate, check_teacher

__all__ = [
    "POLICY",
    "Action",
    "Actor",
    "Door",
    "Policy",
    "Role",
    "SignInRules",
    "SignedIn",
    "TeacherGate",
    "check_teacher",
    "owner_for",
]
