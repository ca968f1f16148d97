"""A client generated from dutyhook's /openapi.json by openapi-python-client,
used as a newcomer would: only the generated modules and models, no raw
HTTP. Run by tests/api/generated_client.rs as
`python3 generated_client.py BASE_URL APP_KEY RECEIVER_URL` with the
generated package on PYTHONPATH. Prints "ok" when every step answered.
"""

import sys
import time

from client.client import AuthenticatedClient
from client.api.people_teams_keys_channels_fields import channel_create, channel_list, channel_update, field_create
from client.api.webhooks_custom_actions_history import webhook_create, history_list
from client.api.incidents import (
    incident_ack,
    incident_create,
    incident_feed,
    incident_field_reset,
    incident_info,
    incident_resolve,
)
from client.models.channel_create import ChannelCreate
from client.models.channel_list import ChannelList
from client.models.channel_order import ChannelOrder
from client.models.channel_update import ChannelUpdate
from client.models.field_create import FieldCreate
from client.models.field_type import FieldType
from client.models.webhook_create import WebhookCreate
from client.models.webhook_kind import WebhookKind
from client.models.incident_create import IncidentCreate
from client.models.incident_create_fields_type_0 import IncidentCreateFieldsType0
from client.models.severity import Severity
from client.models.field_reset import FieldReset
from client.models.incident_ids import IncidentIds
from client.models.incident_feed import IncidentFeed
from client.models.incident_info import IncidentInfo
from client.models.history_list import HistoryList
from client.models.attempt_outcome import AttemptOutcome

base, key, receiver = sys.argv[1], sys.argv[2], sys.argv[3]
api = AuthenticatedClient(base_url=base, token=key)


def data(answer, what):
    """The envelope's data, or stop naming the step and the error."""
    if getattr(answer, "data", None) is None:
        sys.exit(f"{what}: {answer}")
    return answer.data


channel = data(channel_create.sync(client=api, body=ChannelCreate(channel_name="Payments")), "channel")
# An update names the id and only what changes.
data(
    channel_update.sync(client=api, body=ChannelUpdate(channel_id=channel.channel_id, description="Card payments")),
    "channel update",
)
channels = data(channel_list.sync(client=api, body=ChannelList(orderby=ChannelOrder.CHANNEL_NAME)), "channels")
assert [(c.channel_name, c.description) for c in channels.items] == [("Payments", "Card payments")], channels
data(
    field_create.sync(
        client=api,
        body=FieldCreate(field_name="tier", display_name="Tier", field_type=FieldType.TEXT),
    ),
    "field",
)
hook = data(
    webhook_create.sync(
        client=api,
        body=WebhookCreate(kind=WebhookKind.INCIDENT, name="generated", endpoint=receiver),
    ),
    "webhook",
)
fields = IncidentCreateFieldsType0.from_dict({"tier": "silver"})
incident = data(
    incident_create.sync(
        client=api,
        body=IncidentCreate(
            title="Made by a generated client",
            incident_severity=Severity.WARNING,
            channel_id=channel.channel_id,
            fields=fields,
        ),
    ),
    "incident",
)
iid = incident.incident_id
data(
    incident_field_reset.sync(
        client=api, body=FieldReset.from_dict({"incident_id": iid, "field_name": "tier", "field_value": "gold"})
    ),
    "set a field",
)
data(incident_ack.sync(client=api, body=IncidentIds(incident_ids=[iid])), "ack")
data(incident_resolve.sync(client=api, body=IncidentIds(incident_ids=[iid])), "resolve")
now = data(incident_info.sync(client=api, body=IncidentInfo(incident_id=iid)), "info")
assert now.progress.value == "Closed", now.progress
assert now.fields["tier"] == "gold", now.fields.to_dict()
feed = data(incident_feed.sync(client=api, body=IncidentFeed(incident_id=iid, asc=True)), "feed")
types = [item.type_ for item in feed.items]
assert types[:1] == ["i_new"] and "i_r_field" in types and "i_rslv" in types, types
for _ in range(100):
    history = data(
        history_list.sync(
            client=api,
            body=HistoryList(
                integration_id=hook.integration_id,
                status=AttemptOutcome.SUCCESS,
                start_time=int(time.time()) - 600,
                end_time=int(time.time()) + 60,
            ),
        ),
        "history",
    )
    if history.total >= len(types) - 1:
        break
    time.sleep(0.1)
assert history.total > 0, "pushes are in the history"
print("ok")
