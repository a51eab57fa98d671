import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The result of one POST.
enum HTTPOutcome {
    /// The receiver answered. `retryAfter`: the `Retry-After` header in seconds, when given as a number.
    case response(status: Int, retryAfter: Double?, body: String)
    /// No answer: connection refused, DNS, TLS, timeout… (a description without the URL).
    case failure(String)
    /// ``HTTPPoster/cancel()`` was called.
    case cancelled
}

/// Blocking HTTP POSTs with URLSession (FoundationNetworking on Linux): one request at a time, a
/// timeout, no redirects followed (a 3xx is an answer: credentials are never replayed to another URL),
/// no cookies, no cache.
final class HTTPPoster: @unchecked Sendable {
    private let session: URLSession
    private let timeout: Double
    private let lock = NSLock()
    private var current: URLSessionDataTask?
    private var cancelled = false

    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            completionHandler(nil)
        }
    }

    private final class ResultBox: @unchecked Sendable {
        var outcome: HTTPOutcome = .failure("no answer")
    }

    init(timeout: Double) {
        self.timeout = max(0.001, timeout)
        let configuration = URLSessionConfiguration.ephemeral
        // The deadline is enforced by `post` (FoundationNetworking rounds sub-second timeouts badly);
        // URLSession's own timeouts only back it up.
        let backstop = (self.timeout + 1).rounded(.up)
        configuration.timeoutIntervalForRequest = backstop
        configuration.timeoutIntervalForResource = backstop
        configuration.httpShouldSetCookies = false
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 1
        self.session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    deinit { self.session.invalidateAndCancel() }

    /// POSTs `body` and waits for the answer (at most the timeout, plus a little).
    func post(url: URL, body: Data, headers: [(name: String, value: String)]) -> HTTPOutcome {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: (self.timeout + 1).rounded(.up))
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("audithound", forHTTPHeaderField: "User-Agent")
        for h in headers { request.setValue(h.value, forHTTPHeaderField: h.name) }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let task = self.session.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                let retryAfter = (http.value(forHTTPHeaderField: "Retry-After")).flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                let text = data.map { String(decoding: $0.prefix(512), as: UTF8.self) } ?? ""
                box.outcome = .response(status: http.statusCode, retryAfter: retryAfter.map { max(0, $0) }, body: text)
            } else if let error {
                box.outcome = .failure(Self.describe(error))
            }
            done.signal()
        }
        self.lock.lock()
        if self.cancelled {
            self.lock.unlock()
            return .cancelled
        }
        self.current = task
        self.lock.unlock()
        task.resume()
        let outcome: HTTPOutcome
        if done.wait(timeout: .now() + self.timeout) == .timedOut {
            task.cancel()
            _ = done.wait(timeout: .now() + 5)
            outcome = .failure("timed out")
        } else {
            outcome = box.outcome
        }
        self.lock.lock()
        self.current = nil
        let wasCancelled = self.cancelled
        self.lock.unlock()
        return wasCancelled ? .cancelled : outcome
    }

    /// Aborts the request in progress and makes every later `post` return `.cancelled`.
    func cancel() {
        self.lock.lock()
        self.cancelled = true
        let task = self.current
        self.lock.unlock()
        task?.cancel()
    }

    /// A short description of a transport error that never contains the URL.
    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSURLErrorDomain else { return "network error" }
        switch ns.code {
        case NSURLErrorTimedOut: return "timed out"
        case NSURLErrorCannotConnectToHost: return "connection refused"
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "host not found"
        case NSURLErrorNetworkConnectionLost: return "connection lost"
        case NSURLErrorNotConnectedToInternet: return "network unreachable"
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate,
             NSURLErrorServerCertificateNotYetValid, NSURLErrorServerCertificateHasUnknownRoot, NSURLErrorClientCertificateRejected:
            return "TLS error"
        case NSURLErrorCancelled: return "cancelled"
        case NSURLErrorBadServerResponse: return "bad server response"
        default: return "network error \(ns.code)"
        }
    }
}

/// Removes secrets from messages: header values and the parts of URLs that may carry tokens.
struct Redactor: Sendable {
    private var secrets: [String]

    init(secrets: [String]) {
        // Longest first, so that a secret containing another is removed whole.
        self.secrets = secrets.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
    }

    /// `text` with every secret replaced by `***`.
    func redact(_ text: String) -> String {
        var out = text
        for s in self.secrets where out.contains(s) {
            out = out.replacingOccurrences(of: s, with: "***")
        }
        return out
    }

    /// A URL for messages: scheme, host and port only, `/…` standing for any path, query or user info
    /// (Slack's webhook URLs, for one, hold their token in the path).
    static func displayURL(_ url: URL) -> String {
        var s = (url.scheme ?? "http") + "://" + (url.host ?? "?")
        if let port = url.port { s += ":\(port)" }
        let path = url.path
        if (!path.isEmpty && path != "/") || url.query != nil || url.user != nil { s += "/…" } else { s += "/" }
        return s
    }

    /// The parts of a URL that may be secret: user, password, path segments and query.
    static func urlSecrets(_ url: URL) -> [String] {
        var parts: [String] = []
        if let user = url.user { parts.append(user) }
        if let password = url.password { parts.append(password) }
        if let query = url.query { parts.append(query) }
        let path = url.path
        if !path.isEmpty && path != "/" {
            parts.append(path)
            parts.append(contentsOf: path.split(separator: "/").map(String.init).filter { $0.count >= 8 })
        }
        return parts
    }
}
