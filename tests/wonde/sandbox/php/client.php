<?php
// Reads a school from the Wonde sandbox the way Wonde's official PHP client (wondeltd/php-client) calls
// Wonde: Guzzle, HTTP Basic with the token as user and an empty password, https only, paths that end in
// a slash (`schools/{id}/students/?include=...`), the host taken from the school's `region.domain`, and
// `meta.pagination.next` followed as given until it is empty. Driven by
// tests/wonde/sandbox/test_php_client.py; prints what it read as one JSON object.
//
// Environment: SANDBOX_HOST (host:port to read the school object from), SCHOOL_ID, WONDE_TOKEN,
// CA_CERT (the sandbox's self-signed certificate); CLASS_INCLUDE (say `employees`) to list classes
// with that include, else plain; GET_STUDENT=1 to also get one student by id.

declare(strict_types=1);

require_once '/usr/share/php/GuzzleHttp/autoload.php';

use GuzzleHttp\Client;

function env(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        fwrite(STDERR, "$name is not set\n");
        exit(2);
    }
    return $value;
}

$schoolId = env('SCHOOL_ID');
$token = env('WONDE_TOKEN');
$requests = [];

$http = new Client([
    'verify' => env('CA_CERT'),
    'allow_redirects' => false,  // a redirect (say, from a trailing slash) is a failure here, not a detour
    'http_errors' => true,
    'timeout' => 60,
    'curl' => [CURLOPT_PROTOCOLS => CURLPROTO_HTTPS],  // https only, whatever a link says
    'headers' => [
        'Authorization' => 'Basic ' . base64_encode($token . ':'),
        'User-Agent' => 'bandsync-sandbox-php-check',
    ],
]);

function get(Client $http, string $url, array &$requests): object
{
    $requests[] = $url;
    $response = $http->get($url);
    if ($response->getStatusCode() !== 200) {
        throw new RuntimeException("$url answered {$response->getStatusCode()}");
    }
    $decoded = json_decode((string) $response->getBody(), false, 512, JSON_THROW_ON_ERROR);
    if (!is_object($decoded) || !property_exists($decoded, 'data')) {
        throw new RuntimeException("$url did not answer a Wonde body");
    }
    return $decoded;
}

// Every item of a list, following `next` blindly, as the client's ResultIterator does.
function all(Client $http, string $url, array &$requests, int &$pages): array
{
    $items = [];
    $body = get($http, $url, $requests);
    $pages = 1;
    while (true) {
        foreach ($body->data as $item) {
            $items[] = $item;
        }
        $next = $body->meta->pagination->next ?? null;
        if (empty($next)) {
            return $items;
        }
        $body = get($http, $next, $requests);
        $pages++;
    }
}

$school = get($http, 'https://' . env('SANDBOX_HOST') . "/v1.0/schools/$schoolId", $requests)->data;
$domain = $school->region->domain;
$base = "https://$domain/v1.0/schools/$schoolId/";  // as BootstrapEndpoint::getEndpoint() . $uri

$studentPages = 0;
$students = all($http, $base . 'students/?' . http_build_query(['include' => 'classes,year,education_details']), $requests, $studentPages);

$classPages = 0;
$classInclude = getenv('CLASS_INCLUDE') ?: '';
$classQuery = $classInclude === '' ? '' : '?' . http_build_query(['include' => $classInclude]);
$classes = all($http, $base . 'classes/' . $classQuery, $requests, $classPages);

$one = null;
if (getenv('GET_STUDENT') === '1' && count($students) > 0) {
    $one = get($http, $base . 'students/' . $students[0]->id . '?' . http_build_query(['include' => 'classes,year,education_details']), $requests)->data;
}

echo json_encode([
    'domain' => $domain,
    'school_url' => $school->region->school_url,
    'students' => array_map(fn ($s) => [
        'id' => $s->id,
        'classes' => array_map(fn ($c) => $c->id, $s->classes->data),
        'year' => $s->year->data->name ?? null,
        'upn' => $s->education_details->data->upn ?? null,
    ], $students),
    'student_pages' => $studentPages,
    'classes' => array_map(fn ($c) => [
        'id' => $c->id,
        'employees' => isset($c->employees) ? count($c->employees->data) : null,
    ], $classes),
    'class_pages' => $classPages,
    'one_student' => $one === null ? null : ['id' => $one->id, 'classes' => count($one->classes->data)],
    'requests' => $requests,
], JSON_THROW_ON_ERROR), "\n";
