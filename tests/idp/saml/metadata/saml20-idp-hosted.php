<?php
/*
 * The test IdP: signs with the key pair tests/sso/saml_idp.py generates into cert/ for
 * each run, authenticates with the example-userpass source (authsources.php).
 */
$settings = json_decode(
    file_get_contents(dirname(__DIR__) . '/settings.json'), true, 16, JSON_THROW_ON_ERROR
);

$metadata[$settings['idp_entity_id']] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
    'simplesaml.nameidattribute' => 'uid',
];
