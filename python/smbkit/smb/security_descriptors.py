"""Security descriptors (MS-DTYP 2.4), as ``SMBConnection.getSecurity``
returns them: :class:`SecurityDescriptor` with its owner and group
:class:`SID`\\ s and its DACL and SACL (:class:`ACL` of :class:`ACE`).

The classes, attributes and constants are pysmb's ``smb.security_descriptors``.
"""

import struct

# --- SECURITY_DESCRIPTOR Control flags (MS-DTYP 2.4.6) ---------------------
SECURITY_DESCRIPTOR_OWNER_DEFAULTED = 0x0001
SECURITY_DESCRIPTOR_GROUP_DEFAULTED = 0x0002
SECURITY_DESCRIPTOR_DACL_PRESENT = 0x0004
SECURITY_DESCRIPTOR_DACL_DEFAULTED = 0x0008
SECURITY_DESCRIPTOR_SACL_PRESENT = 0x0010
SECURITY_DESCRIPTOR_SACL_DEFAULTED = 0x0020
SECURITY_DESCRIPTOR_SERVER_SECURITY = 0x0040
SECURITY_DESCRIPTOR_DACL_TRUSTED = 0x0080
SECURITY_DESCRIPTOR_DACL_COMPUTED_INHERITANCE_REQUIRED = 0x0100
SECURITY_DESCRIPTOR_SACL_COMPUTED_INHERITANCE_REQUIRED = 0x0200
SECURITY_DESCRIPTOR_DACL_AUTO_INHERITED = 0x0400
SECURITY_DESCRIPTOR_SACL_AUTO_INHERITED = 0x0800
SECURITY_DESCRIPTOR_DACL_PROTECTED = 0x1000
SECURITY_DESCRIPTOR_SACL_PROTECTED = 0x2000
SECURITY_DESCRIPTOR_RM_CONTROL_VALID = 0x4000
SECURITY_DESCRIPTOR_SELF_RELATIVE = 0x8000

# --- ACE types (MS-DTYP 2.4.4.1) ----------------------------------------------
ACE_TYPE_ACCESS_ALLOWED = 0x00
ACE_TYPE_ACCESS_DENIED = 0x01
ACE_TYPE_SYSTEM_AUDIT = 0x02
ACE_TYPE_SYSTEM_ALARM = 0x03
ACE_TYPE_ACCESS_ALLOWED_COMPOUND = 0x04
ACE_TYPE_ACCESS_ALLOWED_OBJECT = 0x05
ACE_TYPE_ACCESS_DENIED_OBJECT = 0x06
ACE_TYPE_SYSTEM_AUDIT_OBJECT = 0x07
ACE_TYPE_SYSTEM_ALARM_OBJECT = 0x08
ACE_TYPE_ACCESS_ALLOWED_CALLBACK = 0x09
ACE_TYPE_ACCESS_DENIED_CALLBACK = 0x0A
ACE_TYPE_ACCESS_ALLOWED_CALLBACK_OBJECT = 0x0B
ACE_TYPE_ACCESS_DENIED_CALLBACK_OBJECT = 0x0C
ACE_TYPE_SYSTEM_AUDIT_CALLBACK = 0x0D
ACE_TYPE_SYSTEM_ALARM_CALLBACK = 0x0E
ACE_TYPE_SYSTEM_AUDIT_CALLBACK_OBJECT = 0x0F
ACE_TYPE_SYSTEM_ALARM_CALLBACK_OBJECT = 0x10
ACE_TYPE_SYSTEM_MANDATORY_LABEL = 0x11
ACE_TYPE_SYSTEM_RESOURCE_ATTRIBUTE = 0x12
ACE_TYPE_SYSTEM_SCOPED_POLICY_ID = 0x13

# --- ACE flags (MS-DTYP 2.4.4.1) ------------------------------------------------
ACE_FLAG_OBJECT_INHERIT = 0x01
ACE_FLAG_CONTAINER_INHERIT = 0x02
ACE_FLAG_NO_PROPAGATE_INHERIT = 0x04
ACE_FLAG_INHERIT_ONLY = 0x08
ACE_FLAG_INHERITED = 0x10
ACE_FLAG_SUCCESSFUL_ACCESS = 0x40
ACE_FLAG_FAILED_ACCESS = 0x80

# --- Well-known SIDs (MS-DTYP 2.4.2.4) ---------------------------------------------
SID_NULL = "S-1-0-0"
SID_EVERYONE = "S-1-1-0"
SID_LOCAL = "S-1-2-0"
SID_CONSOLE_LOGON = "S-1-2-1"
SID_CREATOR_OWNER = "S-1-3-0"
SID_CREATOR_GROUP = "S-1-3-1"
SID_OWNER_SERVER = "S-1-3-2"
SID_GROUP_SERVER = "S-1-3-3"
SID_OWNER_RIGHTS = "S-1-3-4"
SID_NT_AUTHORITY = "S-1-5"
SID_DIALUP = "S-1-5-1"
SID_NETWORK = "S-1-5-2"
SID_BATCH = "S-1-5-3"
SID_INTERACTIVE = "S-1-5-4"
SID_SERVICE = "S-1-5-6"
SID_ANONYMOUS = "S-1-5-7"
SID_PROXY = "S-1-5-8"
SID_ENTERPRISE_DOMAIN_CONTROLLERS = "S-1-5-9"
SID_PRINCIPAL_SELF = "S-1-5-10"
SID_AUTHENTICATED_USERS = "S-1-5-11"
SID_RESTRICTED_CODE = "S-1-5-12"
SID_TERMINAL_SERVER_USER = "S-1-5-13"
SID_REMOTE_INTERACTIVE_LOGON = "S-1-5-14"
SID_THIS_ORGANIZATION = "S-1-5-15"
SID_IUSR = "S-1-5-17"
SID_LOCAL_SYSTEM = "S-1-5-18"
SID_LOCAL_SERVICE = "S-1-5-19"
SID_NETWORK_SERVICE = "S-1-5-20"
SID_COMPOUNDED_AUTHENTICATION = "S-1-5-21-0-0-0-496"
SID_CLAIMS_VALID = "S-1-5-21-0-0-0-497"
SID_BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
SID_BUILTIN_USERS = "S-1-5-32-545"
SID_BUILTIN_GUESTS = "S-1-5-32-546"
SID_POWER_USERS = "S-1-5-32-547"
SID_ACCOUNT_OPERATORS = "S-1-5-32-548"
SID_SERVER_OPERATORS = "S-1-5-32-549"
SID_PRINTER_OPERATORS = "S-1-5-32-550"
SID_BACKUP_OPERATORS = "S-1-5-32-551"
SID_REPLICATOR = "S-1-5-32-552"
SID_ALIAS_PREW2KCOMPACC = "S-1-5-32-554"
SID_REMOTE_DESKTOP = "S-1-5-32-555"
SID_NETWORK_CONFIGURATION_OPS = "S-1-5-32-556"
SID_INCOMING_FOREST_TRUST_BUILDERS = "S-1-5-32-557"
SID_PERFMON_USERS = "S-1-5-32-558"
SID_PERFLOG_USERS = "S-1-5-32-559"
SID_WINDOWS_AUTHORIZATION_ACCESS_GROUP = "S-1-5-32-560"
SID_TERMINAL_SERVER_LICENSE_SERVERS = "S-1-5-32-561"
SID_DISTRIBUTED_COM_USERS = "S-1-5-32-562"
SID_IIS_IUSRS = "S-1-5-32-568"
SID_CRYPTOGRAPHIC_OPERATORS = "S-1-5-32-569"
SID_EVENT_LOG_READERS = "S-1-5-32-573"
SID_CERTIFICATE_SERVICE_DCOM_ACCESS = "S-1-5-32-574"
SID_RDS_REMOTE_ACCESS_SERVERS = "S-1-5-32-575"
SID_RDS_ENDPOINT_SERVERS = "S-1-5-32-576"
SID_RDS_MANAGEMENT_SERVERS = "S-1-5-32-577"
SID_HYPER_V_ADMINS = "S-1-5-32-578"
SID_ACCESS_CONTROL_ASSISTANCE_OPS = "S-1-5-32-579"
SID_REMOTE_MANAGEMENT_USERS = "S-1-5-32-580"
SID_WRITE_RESTRICTED_CODE = "S-1-5-33"
SID_NTLM_AUTHENTICATION = "S-1-5-64-10"
SID_SCHANNEL_AUTHENTICATION = "S-1-5-64-14"
SID_DIGEST_AUTHENTICATION = "S-1-5-64-21"
SID_THIS_ORGANIZATION_CERTIFICATE = "S-1-5-65-1"
SID_NT_SERVICE = "S-1-5-80"
SID_USER_MODE_DRIVERS = "S-1-5-84-0-0-0-0-0"
SID_LOCAL_ACCOUNT = "S-1-5-113"
SID_LOCAL_ACCOUNT_AND_MEMBER_OF_ADMINISTRATORS_GROUP = "S-1-5-114"
SID_OTHER_ORGANIZATION = "S-1-5-1000"
SID_ALL_APP_PACKAGES = "S-1-15-2-1"
SID_ML_UNTRUSTED = "S-1-16-0"
SID_ML_LOW = "S-1-16-4096"
SID_ML_MEDIUM = "S-1-16-8192"
SID_ML_MEDIUM_PLUS = "S-1-16-8448"
SID_ML_HIGH = "S-1-16-12288"
SID_ML_SYSTEM = "S-1-16-16384"
SID_ML_PROTECTED_PROCESS = "S-1-16-20480"
SID_AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY = "S-1-18-1"
SID_SERVICE_ASSERTED_IDENTITY = "S-1-18-2"
SID_FRESH_PUBLIC_KEY_IDENTITY = "S-1-18-3"
SID_KEY_TRUST_IDENTITY = "S-1-18-4"
SID_KEY_PROPERTY_MFA = "S-1-18-5"
SID_KEY_PROPERTY_ATTESTATION = "S-1-18-6"

# ACE types whose body starts with object flags and GUIDs (MS-DTYP 2.4.4.3).
_OBJECT_ACES = frozenset((
    ACE_TYPE_ACCESS_ALLOWED_OBJECT,
    ACE_TYPE_ACCESS_DENIED_OBJECT,
    ACE_TYPE_SYSTEM_AUDIT_OBJECT,
    ACE_TYPE_SYSTEM_ALARM_OBJECT,
    ACE_TYPE_ACCESS_ALLOWED_CALLBACK_OBJECT,
    ACE_TYPE_ACCESS_DENIED_CALLBACK_OBJECT,
    ACE_TYPE_SYSTEM_AUDIT_CALLBACK_OBJECT,
    ACE_TYPE_SYSTEM_ALARM_CALLBACK_OBJECT,
))
# ACE types with application data after the SID.
_CALLBACK_ACES = frozenset((
    ACE_TYPE_ACCESS_ALLOWED_CALLBACK,
    ACE_TYPE_ACCESS_DENIED_CALLBACK,
    ACE_TYPE_ACCESS_ALLOWED_CALLBACK_OBJECT,
    ACE_TYPE_ACCESS_DENIED_CALLBACK_OBJECT,
    ACE_TYPE_SYSTEM_AUDIT_CALLBACK,
    ACE_TYPE_SYSTEM_ALARM_CALLBACK,
    ACE_TYPE_SYSTEM_AUDIT_CALLBACK_OBJECT,
    ACE_TYPE_SYSTEM_ALARM_CALLBACK_OBJECT,
))
# Object ACE flags: which GUIDs are present (MS-DTYP 2.4.4.3).
_OBJECT_TYPE_PRESENT = 0x1
_INHERITED_OBJECT_TYPE_PRESENT = 0x2


def _need(data, size, what):
    if len(data) < size:
        raise ValueError("%s: %d bytes needed, %d present" % (what, size, len(data)))


class SID(object):
    """A security identifier (MS-DTYP 2.4.2): a principal, such as a user or
    a group.

    ``str(sid)`` gives its ``S-1-5-32-544`` form (MS-DTYP 2.4.2.1), which
    compares with the ``SID_*`` constants of this module.

    :ivar revision: the revision (1).
    :ivar identifier_authority: the 48-bit identifier authority, as an int.
    :ivar subauthorities: the sub-authorities, a list of ints.
    """

    def __init__(self, revision, identifier_authority, subauthorities):
        self.revision = revision
        self.identifier_authority = identifier_authority
        self.subauthorities = subauthorities

    def __str__(self):
        authority = self.identifier_authority
        if authority >= 2 ** 32:
            authority = "%#x" % authority
        return "-".join(
            ["S", str(self.revision), str(authority)]
            + [str(s) for s in self.subauthorities]
        )

    def __repr__(self):
        return "SID(%r)" % str(self)

    def __eq__(self, other):
        if isinstance(other, SID):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self):
        return hash(str(self))

    @classmethod
    def from_bytes(cls, data, return_tail=False):
        """Decodes a SID at the start of ``data``; with ``return_tail``,
        returns ``(sid, the bytes after it)``."""
        data = bytes(data)
        _need(data, 8, "SID")
        revision, count = data[0], data[1]
        authority = int.from_bytes(data[2:8], "big")
        end = 8 + 4 * count
        _need(data, end, "SID with %d sub-authorities" % count)
        subs = list(struct.unpack("<%dI" % count, data[8:end]))
        sid = cls(revision, authority, subs)
        return (sid, data[end:]) if return_tail else sid


class ACE(object):
    """An access control entry (MS-DTYP 2.4.4).

    :ivar type: the ACE type, one of the ``ACE_TYPE_*`` constants.
    :ivar flags: the ``ACE_FLAG_*`` bits.
    :ivar mask: the access mask (MS-DTYP 2.4.3).
    :ivar sid: the :class:`SID` of the trustee.
    :ivar additional_data: further fields by type: ``flags``,
        ``object_type``, ``inherited_object_type`` (object ACEs),
        ``application_data`` (callback ACEs), ``attribute_data`` (resource
        attribute ACEs).
    """

    HEADER_FORMAT = "<BBH"

    def __init__(self, type_, flags, mask, sid, additional_data):
        self.type = type_
        self.flags = flags
        self.mask = mask
        self.sid = sid
        self.additional_data = additional_data

    def __repr__(self):
        return "ACE(type=%#04x, flags=%#04x, mask=%#010x, sid=%s)" % (
            self.type, self.flags, self.mask, self.sid,
        )

    @property
    def isInheritOnly(self):
        """True when the ACE only passes on to children and does not apply
        to the object itself."""
        return bool(self.flags & ACE_FLAG_INHERIT_ONLY)

    @classmethod
    def from_bytes(cls, data):
        """Decodes the ACE at the start of ``data``."""
        data = bytes(data)
        header = struct.calcsize(cls.HEADER_FORMAT)
        _need(data, header + 4, "ACE")
        type_, flags, size = struct.unpack_from(cls.HEADER_FORMAT, data)
        _need(data, size, "ACE of %d bytes" % size)
        (mask,) = struct.unpack_from("<I", data, header)
        body = data[header + 4:size]
        extra = {}
        if type_ in _OBJECT_ACES:
            _need(body, 4, "object ACE flags")
            (object_flags,) = struct.unpack_from("<I", body)
            body = body[4:]
            extra["flags"] = object_flags
            if object_flags & _OBJECT_TYPE_PRESENT:
                _need(body, 16, "ACE ObjectType")
                extra["object_type"], body = body[:16], body[16:]
            if object_flags & _INHERITED_OBJECT_TYPE_PRESENT:
                _need(body, 16, "ACE InheritedObjectType")
                extra["inherited_object_type"], body = body[:16], body[16:]
        sid, body = SID.from_bytes(body, return_tail=True)
        if type_ in _CALLBACK_ACES:
            extra["application_data"] = body
        elif type_ == ACE_TYPE_SYSTEM_RESOURCE_ATTRIBUTE:
            extra["attribute_data"] = body
        return cls(type_, flags, mask, sid, extra)


class ACL(object):
    """An access control list (MS-DTYP 2.4.5).

    :ivar revision: the ACL revision.
    :ivar aces: the :class:`ACE` entries, in order.
    """

    HEADER_FORMAT = "<BBHHH"

    def __init__(self, revision, aces):
        self.revision = revision
        self.aces = aces

    def __repr__(self):
        return "ACL(%r)" % (self.aces,)

    @classmethod
    def from_bytes(cls, data):
        """Decodes the ACL at the start of ``data``."""
        data = bytes(data)
        header = struct.calcsize(cls.HEADER_FORMAT)
        _need(data, header, "ACL")
        revision, _, size, count, _ = struct.unpack_from(cls.HEADER_FORMAT, data)
        _need(data, size, "ACL of %d bytes" % size)
        aces = []
        at = header
        for _ in range(count):
            _need(data[at:size], 4, "ACE header")
            (ace_size,) = struct.unpack_from("<H", data, at + 2)
            if ace_size < 4:
                raise ValueError("ACE of %d bytes" % ace_size)
            aces.append(ACE.from_bytes(data[at:at + ace_size]))
            at += ace_size
        return cls(revision, aces)


class SecurityDescriptor(object):
    """A security descriptor (MS-DTYP 2.4.6): what ``getSecurity`` returns.

    :ivar flags: the ``SECURITY_DESCRIPTOR_*`` control bits.
    :ivar owner: the owner's :class:`SID`, or None.
    :ivar group: the primary group's :class:`SID`, or None.
    :ivar dacl: the discretionary :class:`ACL` (who may do what), or None.
    :ivar sacl: the system :class:`ACL` (auditing), or None.
    """

    HEADER_FORMAT = "<BBHIIII"

    def __init__(self, flags, owner, group, dacl, sacl):
        self.flags = flags
        self.owner = owner
        self.group = group
        self.dacl = dacl
        self.sacl = sacl

    def __repr__(self):
        return "SecurityDescriptor(flags=%#06x, owner=%s, group=%s, dacl=%r, sacl=%r)" % (
            self.flags, self.owner, self.group, self.dacl, self.sacl,
        )

    @classmethod
    def from_bytes(cls, data):
        """Decodes a self-relative security descriptor."""
        data = bytes(data)
        _need(data, struct.calcsize(cls.HEADER_FORMAT), "security descriptor")
        (revision, _, flags, owner_at, group_at, sacl_at, dacl_at) = struct.unpack_from(
            cls.HEADER_FORMAT, data
        )
        if revision != 1:
            raise ValueError("security descriptor revision %d, expected 1" % revision)
        if not flags & SECURITY_DESCRIPTOR_SELF_RELATIVE:
            raise ValueError("the security descriptor is not self-relative")
        for at in (owner_at, group_at, sacl_at, dacl_at):
            if not 0 <= at < len(data):
                raise ValueError("security descriptor offset %d out of range" % at)
        return cls(
            flags,
            SID.from_bytes(data[owner_at:]) if owner_at else None,
            SID.from_bytes(data[group_at:]) if group_at else None,
            ACL.from_bytes(data[dacl_at:]) if dacl_at else None,
            ACL.from_bytes(data[sacl_at:]) if sacl_at else None,
        )
