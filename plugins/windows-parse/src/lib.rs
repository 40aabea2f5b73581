//! Crate `netcap-windows-parse`: Kerberos ([`kerberos`]) and LDAP ([`ldap`]) messages into
//! `netcap.v1` records, shared by the `windows` stream decoder (TCP 88 and 389) and the
//! `windows-udp` layer decoder (UDP 88 and CLDAP on UDP 389). A library crate because a decoder
//! crate's export glue cannot be linked into another component. The callers set the records'
//! addresses, time and transport; these modules fill the message fields and say which error to
//! count when a message is cut or malformed (the record keeps what was read).

#[cfg(any(test, feature = "test-vectors"))]
pub mod build;
pub mod der;
pub mod kerberos;
pub mod ldap;
