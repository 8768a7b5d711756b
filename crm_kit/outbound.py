# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Where the CRM may connect to at a user's word: public addresses only.

A webhook's URL is typed by a user, so without a check the server would
POST to itself, to its database's network or to a cloud's metadata
service (169.254.169.254) and log the answer.  A host is allowed when every
address its name resolves to is public (not loopback, private, link-local,
shared, unspecified, multicast or reserved), or when the server's
administrator lists it in ``[webhook] private_hosts`` of the configuration
file (names, addresses or networks, separated by commas or spaces).
``post`` connects to an address it has checked, so a name that resolves
differently a moment later (DNS rebinding) is not followed, nor are
redirects."""
import http.client
import ipaddress
import re
import socket
import urllib.parse

from trytond import config

NAT64 = ipaddress.ip_network('64:ff9b::/96')


class PrivateAddress(Exception):
    "The target resolves to an address that is not public"

    def __init__(self, host, address):
        super().__init__(host, address)
        self.host = host
        self.address = address


class UnknownHost(Exception):
    "The target's name does not resolve"

    def __init__(self, host):
        super().__init__(host)
        self.host = host


def private_hosts():
    "The names and networks [webhook] private_hosts allows"
    names, networks = set(), []
    value = config.get('webhook', 'private_hosts', default='') or ''
    for entry in re.split(r'[\s,]+', value):
        entry = entry.strip().strip('[]').lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip('.'))
    return names, networks


def is_public(address):
    "Whether address (a string) is a public unicast address"
    ip = ipaddress.ip_address(address.split('%', 1)[0])
    if ip.version == 6:
        # An IPv4 address carried in IPv6 is judged as itself.
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip.sixtofour:
            ip = ip.sixtofour
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xffffffff)
    return ip.is_global and not ip.is_multicast


def resolve(host, port):
    "Every address host resolves to, in the resolver's order"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnknownHost(host)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _port(parts):
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or (443 if parts.scheme == 'https' else 80)


def addresses(url):
    """The addresses the CRM may connect to for url; raises PrivateAddress
    when one of them is not public and not allowed, UnknownHost when the
    name does not resolve"""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or '').rstrip('.')
    names, networks = private_hosts()
    found = resolve(host, _port(parts))
    if host in names:
        return found
    for address in found:
        ip = ipaddress.ip_address(address.split('%', 1)[0])
        if not is_public(address) and not any(
                ip.version == n.version and ip in n for n in networks):
            raise PrivateAddress(host, address)
    return found


def check(url):
    """Raise PrivateAddress when url points at an address that is not
    allowed; a name that does not resolve now passes (post checks again)"""
    try:
        addresses(url)
    except UnknownHost:
        pass


def post(url, body, headers, timeout, excerpt):
    """POST body to url on a checked address, without following redirects:
    (status, reason, the first excerpt bytes of the answer).  Raises
    PrivateAddress, UnknownHost or OSError."""
    parts = urllib.parse.urlsplit(url)
    port = _port(parts)
    checked = addresses(url)

    def connect(address, timeout=None, source_address=None):
        error = None
        for ip in checked:
            try:
                return socket.create_connection(
                    (ip, port), timeout, source_address)
            except OSError as exception:
                error = exception
        raise error
    if parts.scheme == 'https':
        connection = http.client.HTTPSConnection(
            parts.hostname, port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, port, timeout=timeout)
    # The name is kept for Host and TLS (certificate and SNI); only the
    # address it connects to is the one checked.
    connection._create_connection = connect
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    try:
        connection.request('POST', path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.reason, response.read(excerpt)
    finally:
        connection.close()
