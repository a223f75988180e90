<?php

/*
 * serverless-lamp-database: the PHP connector, for code that does not use
 * Composer (the Lambda layer puts this file at /opt/serverless-lamp/Database.php):
 *
 *     require '/opt/serverless-lamp/Database.php';
 *     $pdo = \ServerlessLamp\Database::pdo();
 *
 * It registers an autoloader for the ServerlessLamp\ namespace (src/, one
 * class per file, PSR-4: what composer.json declares) and loads the
 * connector's main class; the others load when first used.
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'ServerlessLamp\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});

class_exists(\ServerlessLamp\Database::class);
