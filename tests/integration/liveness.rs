use crate::shared;

crate::tests!(
    livez_answers_ok_in_text_and_json,
    livez_supports_head_and_rejects_post_with_allow,
    unknown_paths_get_404_problem_json_with_the_request_id,
);

fn livez_answers_ok_in_text_and_json() {
    let worker = shared();
    for path in ["/livez", "/health/liveness"] {
        let reply = worker.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, "ok");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert!(reply.header("x-vigil-version").is_some());
    }
    let reply = worker.request("GET", "/livez", &[("Accept", "application/json")]);
    assert_eq!(reply.json()["status"], "ok");
}

fn livez_supports_head_and_rejects_post_with_allow() {
    let worker = shared();
    let head = worker.request("HEAD", "/livez", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    let post = worker.request("POST", "/livez", &[]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        post.header("content-type"),
        Some("application/problem+json")
    );
}

fn unknown_paths_get_404_problem_json_with_the_request_id() {
    let reply = shared().request("GET", "/nope", &[("X-Request-Id", "it-404")]);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("x-request-id"), Some("it-404"));
    let problem = reply.json();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["requestId"], "it-404");
}
