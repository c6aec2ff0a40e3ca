-- /etc/prosody/conf.d/portail.cfg.lua — parents sign in to XMPP with their
-- portail address and password: Prosody's mod_auth_cyrus (Debian's
-- prosody-modules, with lua-cyrussasl) asks Cyrus SASL (application
-- "prosody": /etc/sasl2/prosody.conf, examples/sasl/prosody.conf), which
-- asks saslauthd -a pam -r, which asks pam_portail (/etc/pam.d/xmpp,
-- examples/pam.d/xmpp). Checked with Prosody 0.12.3 (Debian 12) by
-- tests/prosody.test.
--
-- Identities: mod_auth_cyrus hands SASL only the JID's local part, and the
-- host as the realm; saslauthd -r joins them again (local@realm). So the
-- JID chantal.gagnon@exemple.ca is the address chantal.gagnon@exemple.ca
-- when the VirtualHost is the parents' mail domain: one VirtualHost per
-- e-mail domain of the school's parents, never one shared host (there two
-- parents with one local part on two domains would be one JID, and one's
-- failures would count on the other's account).
--
-- Mechanisms: PLAIN only (mech_list in prosody.conf), so TLS must be on
-- (Prosody's default c2s_require_encryption = true; keep it).
authentication = "cyrus"
cyrus_application_name = "prosody"
cyrus_service_name = "xmpp"

VirtualHost "exemple.ca"
