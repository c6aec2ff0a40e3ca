-- /etc/prosody/conf.d/portail.cfg.lua — parents sign in to XMPP with their
-- portail address and password: Prosody's mod_auth_cyrus (Debian's
-- prosody-modules, with lua-cyrussasl) asks Cyrus SASL (application
-- "prosody": /etc/sasl2/prosody.conf, examples/sasl/prosody.conf), which
-- asks saslauthd -a pam -r, which asks pam_portail (/etc/pam.d/xmpp,
-- examples/pam.d/xmpp). Checked with Prosody 0.12.3 (Debian 12) by
-- tests/prosody.test.
--
-- Identities: one VirtualHost for every parent, whatever their mail domain.
-- A parent's JID is their address with its '@' escaped as XEP-0106 says
-- (JID Escaping): chantal.gagnon@exemple.ca signs in as
--     chantal.gagnon\40exemple.ca@parents.exemple.qc.ca
-- and chantal.gagnon@courriel.example, another parent, as
--     chantal.gagnon\40courriel.example@parents.exemple.qc.ca
-- mod_auth_cyrus hands SASL the JID's local part and the host as the realm;
-- saslauthd -r joins them; pam_portail's "jid" option (examples/pam.d/xmpp)
-- decodes the local part back to the address and drops the host. A JID
-- whose local part is no escaped address (chantal.gagnon@parents...) names
-- no parent: refused, and counted on nobody's account.
-- Why escaping and not one VirtualHost per mail domain: parents' domains
-- are every provider on earth (a host per domain cannot be configured in
-- advance), and Prosody keeps only the local part, so on a host not named
-- for the parent's own domain two parents with one local part would be one
-- JID, and one's failures would count on the other's account. Clients that
-- do not escape for the parent take the escaped JID as it is typed.

-- Mechanisms: PLAIN only (mech_list in prosody.conf), so TLS must be on
-- (Prosody's default c2s_require_encryption = true; keep it).
authentication = "cyrus"
cyrus_application_name = "prosody"
cyrus_service_name = "xmpp"

VirtualHost "parents.exemple.qc.ca"
