<?php
/*
 * The service providers this test IdP knows: Bastion tenants, listed in settings.json by
 * tests/sso/saml_idp.py, each with its entity id, ACS URL, what the IdP signs and
 * (optionally) the SP certificate that signs its AuthnRequests.
 */
$settings = json_decode(
    file_get_contents(dirname(__DIR__) . '/settings.json'), true, 16, JSON_THROW_ON_ERROR
);

foreach ($settings['sps'] as $sp) {
    $entry = [
        'AssertionConsumerService' => [
            [
                'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
                'Location' => $sp['acs_url'],
            ],
        ],
        'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
        'simplesaml.nameidattribute' => 'uid',
        'saml20.sign.assertion' => $sp['sign_assertion'],
        'saml20.sign.response' => $sp['sign_response'],
        'validate.authnrequest' => $sp['certificate'] !== null,
        'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    ];
    if ($sp['certificate'] !== null) {
        $entry['certData'] = $sp['certificate'];
    }
    $metadata[$sp['entity_id']] = $entry;
}
