"""Microsoft Entra ID tokens for the token rows (docs/entra.md "Token rows").

A token case carries "entra": {"imds": URL, "client_id": GUID or null,
"resource": R}. The real azure-identity SDK fetches a managed-identity token
from the instance metadata service; AZURE_POD_IDENTITY_AUTHORITY_HOST, which
azure-identity and MSAL read when the credential is made, points it at the
run's token service (Azure's pod-identity override, a documented endpoint
variable). One credential per case: no token outlives its case."""
import os

try:  # the adapter still runs every other case without the SDK
    from azure.identity import ManagedIdentityCredential
    import azure.identity
    SDK_VERSION = azure.identity.__version__
except ImportError:  # pragma: no cover - reported in the hello line
    ManagedIdentityCredential = None
    SDK_VERSION = None


def available():
    return ManagedIdentityCredential is not None


def credential(entra):
    """A ManagedIdentityCredential for the case's token service and identity
    (the user-assigned identity's client id, or the VM's own when null)."""
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = entra["imds"]
    client_id = entra.get("client_id")
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def scope(entra):
    return entra.get("resource", "https://ossrdbms-aad.database.windows.net").rstrip("/") + "/.default"
