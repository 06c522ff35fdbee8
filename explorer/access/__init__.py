"""Access: who may do what (the policy) and the teacher's sign-in (a password behind a back-off).

The lowest layer beside resources: it imports nothing from the rest of explorer, so the job manager, the
classroom and the pages all ask the same rules.
"""
from .policy import POLICY, Action, Actor, Policy, Role
from .teacher import TeacherGate, check_teacher

__all__ = [
    "POLICY",
    "Action",
    "Actor",
    "Policy",
    "Role",
    "TeacherGate",
    "check_teacher",
]
