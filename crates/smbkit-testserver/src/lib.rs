//! Throwaway Samba servers on loopback.
