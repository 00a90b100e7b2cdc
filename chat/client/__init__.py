"""The terminal client: `python -m chat.client --url ws://HOST --room lobby --token TOKEN`
(docs/client.md).

It follows docs/protocol.md's client rules ("Delivery guarantee", "The client") the way the
browser's static/chat/delivery.js does, in the same pieces:

- `delivery`: SeqOrder (display by seq: duplicates dropped, a jump held while the gap is
  fetched), Outbox (posts kept by client_id until the server acknowledges them) and the
  reconnect backoff. Pure: no socket, no clock of its own.
- `display`: the lines a person reads, or JSON lines for a pipe.
- `session`: one connection after another (State), wiring the two to a `websockets` socket.

It needs only `websockets` (and chat.errors' code enums, which import nothing else): no
Django settings, no database.
"""
