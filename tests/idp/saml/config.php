<?php
/*
 * SimpleSAMLphp 1.19 configuration for Bastion's SAML tests (tests/sso/saml_idp.py).
 * Everything that varies per run (base URL, directories, salt) comes from settings.json,
 * which the Python helper writes beside this file; nothing here is secret.
 */
$settings = json_decode(file_get_contents(__DIR__ . '/settings.json'), true, 16, JSON_THROW_ON_ERROR);

$config = [
    'baseurlpath' => $settings['base_url'] . '/',
    'certdir' => $settings['dir'] . '/cert/',
    'loggingdir' => $settings['dir'] . '/log/',
    'datadir' => $settings['dir'] . '/data/',
    'tempdir' => $settings['dir'] . '/tmp/',
    'metadatadir' => $settings['dir'] . '/metadata/',
    'attributenamemapdir' => '/etc/simplesamlphp/attributemap/',

    'technicalcontact_name' => 'Bastion tests',
    'technicalcontact_email' => 'tests@example.invalid',
    'timezone' => 'UTC',

    'secretsalt' => $settings['secret_salt'],
    'auth.adminpassword' => $settings['admin_password'],
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    'trusted.url.domains' => [],
    'enable.http_post' => false,
    'assertion.allowed_clock_skew' => 180,

    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'production' => false,

    'logging.level' => SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'statistics.out' => [],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,

    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => true,
    ],

    // Plain HTTP on loopback: the cookies cannot be Secure, and SameSite=None needs Secure.
    'session.duration' => 8 * 60 * 60,
    'session.datastore.timeout' => 4 * 60 * 60,
    'session.state.timeout' => 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.lifetime' => 0,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    'session.cookie.secure' => false,
    'session.cookie.samesite' => 'Lax',
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => $settings['dir'] . '/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.rememberme.enable' => false,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => 'Lax',
    'language.available' => ['en'],
    'language.default' => 'en',

    'theme.use' => 'default',
    'template.auto_reload' => false,

    'store.type' => 'phpsession',

    'metadata.sources' => [
        ['type' => 'flatfile'],
    ],
    'metadata.sign.enable' => false,
];
