<?php
/*
 * Test users for Bastion's SAML tests: exampleauth:UserPass with the users (and their
 * attributes) listed in settings.json by tests/sso/saml_idp.py.
 */
$settings = json_decode(file_get_contents(__DIR__ . '/settings.json'), true, 16, JSON_THROW_ON_ERROR);

$users = [];
foreach ($settings['users'] as $user) {
    $users[$user['username'] . ':' . $user['password']] = $user['attributes'];
}

$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => array_merge(['exampleauth:UserPass'], $users),
];
