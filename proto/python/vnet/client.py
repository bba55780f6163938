"""A small client for vnetd's gRPC API (proto/vnet/v1), for orchestrators.

    from vnet.client import Client
    with Client() as vnet:                      # unix:/run/vnet/vnetd.sock
        ctx = vnet.assign(domain=5, device=0, interface="vif5.0",
                          mac="00:16:3e:00:00:05", ips=["198.18.0.5", "2001:db8::5"],
                          rate_limit={"bits_per_second": 100_000_000},
                          storm_control={"broadcast_pps": 200})
        for ctx_stats in vnet.watch_stats(interval=1.0, count=5):
            ...
        for event in vnet.watch_drops(contexts=[ctx.id], count=10, duration=30):
            ...

    # Over TCP with mutual TLS (the role is the certificate's OU):
    Client("dom0-7.example.net:50051",
           credentials=mtls_credentials("ca.pem", "client.pem", "client.key"))

Errors are grpc.RpcError with vnetd's status code and message (e.g. ALREADY_EXISTS naming
the conflicting context); nothing here retries a refused call.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator, Optional

import grpc
from google.protobuf import field_mask_pb2
from google.protobuf import json_format

from vnet.v1 import context_pb2, context_pb2_grpc
from vnet.v1 import daemon_pb2, daemon_pb2_grpc
from vnet.v1 import monitor_pb2, monitor_pb2_grpc
from vnet.v1 import stats_pb2, stats_pb2_grpc

DEFAULT_TARGET = "unix:/run/vnet/vnetd.sock"


def mtls_credentials(ca_file: str, cert_file: str, key_file: str) -> grpc.ChannelCredentials:
    """Channel credentials for vnetd's TCP address: the CA that signed vnetd's certificate,
    and this client's certificate and key (PEM files); the certificate's OU is the role."""
    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()
    return grpc.ssl_channel_credentials(root_certificates=read(ca_file),
                                        private_key=read(key_file),
                                        certificate_chain=read(cert_file))


def _message(cls, value):
    """A message of type cls from None, a message or a dict of its fields (JSON names)."""
    if value is None or isinstance(value, cls):
        return value
    return json_format.ParseDict(value, cls())


def _ref(ref) -> context_pb2.ContextRef:
    """A ContextRef from an id (int), an interface name (str) or (domain, device)."""
    if isinstance(ref, context_pb2.ContextRef):
        return ref
    if isinstance(ref, int):
        return context_pb2.ContextRef(id=ref)
    if isinstance(ref, str):
        return context_pb2.ContextRef(interface_name=ref)
    domain, device = ref
    return context_pb2.ContextRef(
        device=context_pb2.DeviceRef(domain_id=domain, device_id=device))


class Client:
    """One channel to vnetd. `target` is a gRPC target ("unix:PATH" or "HOST:PORT");
    `timeout` is the deadline of each call in seconds."""

    def __init__(self, target: str = DEFAULT_TARGET, timeout: float = 10.0,
                 credentials: Optional[grpc.ChannelCredentials] = None):
        self.timeout = timeout
        if credentials is None:
            self._channel = grpc.insecure_channel(target)
        else:
            self._channel = grpc.secure_channel(target, credentials)
        self.contexts = context_pb2_grpc.ContextServiceStub(self._channel)
        self.daemon = daemon_pb2_grpc.DaemonServiceStub(self._channel)
        self.stats = stats_pb2_grpc.StatsServiceStub(self._channel)
        self.monitor = monitor_pb2_grpc.MonitorServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- contexts ---------------------------------------------------------------------
    def assign(self, *, domain: int, device: int, interface: str, mac: str,
               ips: Iterable[str] = (), vlan: int = 0, mtu: int = 0,
               offloads: Optional[context_pb2.Offloads] = None,
               rate_limit=None, rx_rate_limit=None, storm_control=None) -> context_pb2.Context:
        """Assigns (idempotently) a context; addresses of both families in `ips`. The limits
        are messages or dicts of their fields: rate_limit={"bits_per_second": 10**8,
        "burst_bytes": 262144}, storm_control={"broadcast_pps": 200}."""
        ctx = context_pb2.Context(domain_id=domain, device_id=device, interface_name=interface,
                                  mac=mac, vlan=vlan, mtu=mtu)
        for ip in ips:
            (ctx.ipv6_addresses if ":" in ip else ctx.ipv4_addresses).append(ip)
        if offloads is not None:
            ctx.offloads.CopyFrom(offloads)
        for field, cls, value in (("rate_limit", context_pb2.RateLimit, rate_limit),
                                  ("rx_rate_limit", context_pb2.RateLimit, rx_rate_limit),
                                  ("storm_control", context_pb2.StormControl, storm_control)):
            if value is not None:
                getattr(ctx, field).CopyFrom(_message(cls, value))
        return self.contexts.AssignContext(context_pb2.AssignContextRequest(context=ctx),
                                           timeout=self.timeout)

    def get(self, ref) -> context_pb2.Context:
        return self.contexts.GetContext(context_pb2.GetContextRequest(ref=_ref(ref)),
                                        timeout=self.timeout)

    def list(self) -> list:
        """Every context, by id (ListContexts is paged: this follows the pages)."""
        contexts, token = [], ""
        while True:
            page = self.contexts.ListContexts(context_pb2.ListContextsRequest(page_token=token),
                                              timeout=self.timeout)
            contexts.extend(page.contexts)
            token = page.next_page_token
            if not token:
                return contexts

    def update(self, ref, **fields) -> context_pb2.Context:
        """Changes the named fields (mac, ipv4_addresses, ipv6_addresses, vlan, mtu,
        offloads, rate_limit, rx_rate_limit, storm_control), given as values, dicts of a
        message's fields or messages: update(3, mtu=9000),
        update(3, storm_control={"broadcast_pps": 200})."""
        patch = context_pb2.Context()
        json_format.ParseDict({k: json_format.MessageToDict(v, preserving_proto_field_name=True)
                               if hasattr(v, "DESCRIPTOR") else v
                               for k, v in fields.items()}, patch)
        mask = field_mask_pb2.FieldMask(paths=sorted(fields))
        return self.contexts.UpdateContext(
            context_pb2.UpdateContextRequest(ref=_ref(ref), context=patch, update_mask=mask),
            timeout=self.timeout)

    def release(self, ref, allow_missing: bool = False) -> context_pb2.ReleaseContextResponse:
        return self.contexts.ReleaseContext(
            context_pb2.ReleaseContextRequest(ref=_ref(ref), allow_missing=allow_missing),
            timeout=self.timeout)

    # ---- daemon and counters ----------------------------------------------------------
    def status(self) -> daemon_pb2.Status:
        return self.daemon.GetStatus(daemon_pb2.GetStatusRequest(), timeout=self.timeout)

    def context_stats(self, ref=None) -> stats_pb2.GetContextStatsResponse:
        """Counters of one context (any form `get` takes), or of every context."""
        req = stats_pb2.GetContextStatsRequest()
        if ref is not None:
            req.ref.CopyFrom(_ref(ref))
        return self.stats.GetContextStats(req, timeout=self.timeout)

    def watch_stats(self, interval: float = 1.0, count: Optional[int] = None,
                    ref=None) -> Iterator[stats_pb2.GetContextStatsResponse]:
        """Reads the counters every `interval` seconds (count times, or forever); rates
        come from consecutive readings and their read_time."""
        n = 0
        while count is None or n < count:
            if n:
                time.sleep(interval)
            yield self.context_stats(ref)
            n += 1

    # ---- drop events ------------------------------------------------------------------
    def watch_drops(self, contexts: Iterable[int] = (), reasons: Iterable[str] = (),
                    count: int = 0, duration: float = 0.0) -> Iterator[monitor_pb2.DropEvent]:
        """Drop events as the fast path reports them (MonitorService.WatchDrops), filtered
        by context ids and reason names; ends after `count` events or `duration` seconds
        (0: no limit; break out of the loop or close the client to stop)."""
        req = monitor_pb2.WatchDropsRequest(context_ids=list(contexts), reasons=list(reasons),
                                            max_events=count)
        if duration > 0:
            req.max_duration.FromNanoseconds(int(duration * 1e9))
        # No per-call timeout for a stream; with a duration, a margin past it.
        timeout = duration + self.timeout if duration > 0 else None
        yield from self.monitor.WatchDrops(req, timeout=timeout)
