"""Stable REFI-QDA GUIDs derived from chimeqda's own identifiers.

Every export of the same project gives every object the same GUID, so other
tools (and chimeqda itself) can recognise objects across exports. Codes and
coders are named independently of the project, so the CHIME-D code ``hope``
has one GUID in every chimeqda project; everything else is named inside a
namespace derived from the project's name.
"""

from __future__ import annotations

import uuid

CHIMEQDA_NAMESPACE = uuid.UUID("6f1d0c1e-3c55-5d38-9a51-2a8f7c2b9e40")


def _guid(namespace: uuid.UUID, name: str) -> str:
    return str(uuid.uuid5(namespace, name))


def project_namespace(project_name: str) -> uuid.UUID:
    return uuid.uuid5(CHIMEQDA_NAMESPACE, f"project:{project_name}")


def code_guid(codebook_key: str, code_key: str) -> str:
    return _guid(CHIMEQDA_NAMESPACE, f"code:{codebook_key}:{code_key}")


def user_guid(kind: str, name: str) -> str:
    return _guid(CHIMEQDA_NAMESPACE, f"coder:{kind}:{name}")


def object_guid(namespace: uuid.UUID, kind: str, ident: object) -> str:
    """GUID of a project object (``document``, ``participant``, ``coding``, ``memo`` …) by its row id."""
    return _guid(namespace, f"{kind}:{ident}")
