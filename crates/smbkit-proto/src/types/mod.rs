//! Wire enumerations as open newtypes: unknown values survive decoding and
//! print as hex instead of failing.

mod status;
pub use status::{describe_status, NtStatus};

/// Defines an open newtype over an integer with named constants.
#[macro_export]
#[doc(hidden)]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($ty:ty) {
            $( $(#[$cmeta:meta])* $const:ident = $value:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        $vis struct $name(pub $ty);

        impl $name {
            $( $(#[$cmeta])* pub const $const: $name = $name($value); )*

            /// The constant's name, if this value has one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$const => Some(stringify!($const)), )*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}", n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Debug::fmt(self, f)
            }
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $ty {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

wire_enum! {
    /// An SMB2 dialect revision (MS-SMB2 §2.2.3).
    pub struct Dialect(u16) {
        /// SMB 2.0.2.
        SMB2_0_2 = 0x0202,
        /// SMB 2.1.
        SMB2_1 = 0x0210,
        /// SMB 3.0.
        SMB3_0 = 0x0300,
        /// SMB 3.0.2.
        SMB3_0_2 = 0x0302,
        /// SMB 3.1.1.
        SMB3_1_1 = 0x0311,
        /// The SMB2 wildcard revision a server answers to a multi-protocol negotiate.
        SMB2_WILDCARD = 0x02FF,
        /// SMB1's "NT LM 0.12" dialect. Not an SMB2 wire value: smbkit
        /// reports it for connections that speak SMB1.
        NT_LM_0_12 = 0x0001,
    }
}

impl Dialect {
    /// True for the SMB 3.x family.
    pub fn is_smb3(self) -> bool {
        self.0 >= 0x0300
    }

    /// The dialect as people write it, e.g. `3.1.1`.
    pub fn version_str(self) -> &'static str {
        match self {
            Dialect::SMB2_0_2 => "2.0.2",
            Dialect::SMB2_1 => "2.1",
            Dialect::SMB3_0 => "3.0",
            Dialect::SMB3_0_2 => "3.0.2",
            Dialect::SMB3_1_1 => "3.1.1",
            Dialect::SMB2_WILDCARD => "2.???",
            Dialect::NT_LM_0_12 => "1 (NT LM 0.12)",
            _ => "unknown",
        }
    }
}

wire_enum! {
    /// An SMB2 command code (MS-SMB2 §2.2.1.2).
    pub struct Command(u16) {
        /// NEGOTIATE.
        NEGOTIATE = 0x0000,
        /// SESSION_SETUP.
        SESSION_SETUP = 0x0001,
        /// LOGOFF.
        LOGOFF = 0x0002,
        /// TREE_CONNECT.
        TREE_CONNECT = 0x0003,
        /// TREE_DISCONNECT.
        TREE_DISCONNECT = 0x0004,
        /// CREATE.
        CREATE = 0x0005,
        /// CLOSE.
        CLOSE = 0x0006,
        /// FLUSH.
        FLUSH = 0x0007,
        /// READ.
        READ = 0x0008,
        /// WRITE.
        WRITE = 0x0009,
        /// LOCK.
        LOCK = 0x000A,
        /// IOCTL.
        IOCTL = 0x000B,
        /// CANCEL.
        CANCEL = 0x000C,
        /// ECHO.
        ECHO = 0x000D,
        /// QUERY_DIRECTORY.
        QUERY_DIRECTORY = 0x000E,
        /// CHANGE_NOTIFY.
        CHANGE_NOTIFY = 0x000F,
        /// QUERY_INFO.
        QUERY_INFO = 0x0010,
        /// SET_INFO.
        SET_INFO = 0x0011,
        /// OPLOCK_BREAK.
        OPLOCK_BREAK = 0x0012,
    }
}
