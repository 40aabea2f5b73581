//! Field-by-field agreement of the Ethernet, IPv4, IPv6, TCP and UDP records with tshark.
