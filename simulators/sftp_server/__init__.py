"""Supplier SFTP drop box simulator (real SSH/SFTP over asyncssh on 127.0.0.1)."""
from simulators.sftp_server.server import (
    USER_FOLDERS,
    SftpServer,
    known_hosts_line,
    load_or_create_host_key,
    write_known_hosts,
)

__all__ = ["USER_FOLDERS", "SftpServer", "known_hosts_line", "load_or_create_host_key", "write_known_hosts"]
