# This file is part of crm-kit.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""ZIP archives from users (OpenDocument and Office files, workbooks to
import) are opened only within bounds: a 300 KB file can hold a member
that expands to gigabytes (a "zip bomb"), and reading it whole would
exhaust the server's memory."""
import io
import zipfile

# What the members of one archive may expand to, in all.
MAX_EXPANDED = 256 * 1024 * 1024
# A member that expands more than this many times, beyond MAX_PLAIN_MEMBER,
# is not a document: text and XML compress about ten times.
MAX_RATIO = 200
MAX_PLAIN_MEMBER = 10 * 1024 * 1024


class ArchiveTooLarge(ValueError):
    "The archive would expand beyond the bounds"


def check(data):
    """Raise ArchiveTooLarge when data, a ZIP archive, expands beyond the
    bounds (from the sizes its directory declares, which zipfile holds the
    members to); zipfile.BadZipFile when it is no archive"""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        total = 0
        for member in archive.infolist():
            total += member.file_size
            if (member.file_size > MAX_PLAIN_MEMBER
                    and member.file_size > MAX_RATIO * max(
                        member.compress_size, 1)):
                raise ArchiveTooLarge(member.filename)
        if total > MAX_EXPANDED:
            raise ArchiveTooLarge(total)


def read_start(archive, name, size):
    "The first size bytes of member name, without expanding the rest"
    with archive.open(name) as member:
        return member.read(size)
