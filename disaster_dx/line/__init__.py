"""LINE: shelter openings, closings and 避難情報 reach the city's LINE friends, once each.

Many residents never open a map page but read the city's LINE official account. How a
change travels (each step one module of this package):

1. :mod:`~disaster_dx.line.notify` — :class:`~disaster_dx.line.notify.Notifier`, an
   after-save action registered by :mod:`disaster_dx.runtime`, turns the committed events of
   the live incident into outbox rows: openings/closings batched per ``LINE_BATCH_SECONDS``,
   each 避難情報 a message of its own, due at once.
2. :mod:`~disaster_dx.line.store` — the outbox's tables and message states, and
   :func:`~disaster_dx.line.store.queue_alerts`; :mod:`~disaster_dx.line.text` — the words.
3. :mod:`~disaster_dx.line.outbox` — HQ previews, holds, releases, cancels, announces
   (role ``hq``, audit-logged) and reads the delivery log.
4. :mod:`~disaster_dx.line.sender` — one sender (a database lease) delivers due messages
   through :mod:`~disaster_dx.line.client` (broadcast/multicast, ``X-Line-Retry-Key``, so a
   restart never resends); in the app as a :class:`disaster_dx.runtime.Service`, or
   ``disaster-dx line run``.

:mod:`~disaster_dx.line.bot` answers the webhook (nearest usable shelters) and
:mod:`~disaster_dx.line.fake` is a local stand-in for the Messaging API (tests, demos).
Raw LINE user ids are never stored or logged (keyed hashes only). The old module paths
(``disaster_dx.notify``, ``notify_store``, ``line_bot``, ``line_fake``, ``line_text``)
re-export these names.
"""
