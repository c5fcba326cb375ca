"""What Mailgun does, with no HTTP framework in sight: one module per area of Mailgun.

- :mod:`.send` and :mod:`.options`: a send request, checked as Mailgun checks it;
- :mod:`.mime`: the message Mailgun would deliver for it;
- :mod:`.events`: the events a send produces (``accepted``, then its outcome);
- :mod:`.eventlog`: where events are kept, and the Events API's paging;
- :mod:`.webhooks`: which URLs hear of which event, and how deliveries are signed;
- :mod:`.errors`: the one error type, carrying Mailgun's status and text.

The HTTP handlers in :mod:`mockgun.api` read requests, call into here, and store
the results; nothing here imports aiohttp or knows a URL.
"""
