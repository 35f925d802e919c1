"""pyidb.sync: offline-first sync of the model client with a server.

Client side (``pyidb.sync.client``): an outbox plugin that logs every write of a synced model in the
same IndexedDB transaction as the write, and a sync worker that pushes the outbox and pulls the
server's changelog by cursor::

    client = await pyidb.sync.open_client("app", schema)      # Client.open + the SyncPlugin
    await client.post.create(data={...})                       # + an outbox event, same transaction
    worker = client.sync_worker("http://127.0.0.1:8765", token="alice-token")
    await worker.sync_once()

Server side (``pyidb.sync.server``): a Starlette app storing records and the changelog in SQLite or
PostgreSQL (``python -m pyidb.sync.server --schema schema.prisma --db sqlite:///server.db``).
The wire format is in ``pyidb.sync.protocol``.
"""

from .client import Outbox, SyncPlugin, open_client
from .protocol import PROTOCOL_VERSION, SyncError
from .transport import HttpTransport, TransportError

__all__ = ["PROTOCOL_VERSION", "HttpTransport", "Outbox", "SyncError", "SyncPlugin", "TransportError",
           "open_client"]
