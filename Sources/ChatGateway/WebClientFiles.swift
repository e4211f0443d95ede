import HTTPTypes
import Hummingbird
import NIOCore

/// The web client's files, compiled into the binary (SwiftPM's `embedInCode`): an installed
/// `chatterbox` serves them from any directory, and what runs in the browser is exactly what
/// was reviewed in Sources/ChatGateway/Resources. Plain HTML, CSS and JavaScript: no build step.
enum WebClientFiles {
    struct File {
        let path: String
        let contentType: String
        let bytes: [UInt8]
    }

    static let files: [File] = [
        File(path: "/", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        File(path: "/index.html", contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html),
        File(path: "/app.js", contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js),
        File(path: "/app.css", contentType: "text/css; charset=utf-8", bytes: PackageResources.app_css),
        File(path: "/icon.svg", contentType: "image/svg+xml", bytes: PackageResources.icon_svg),
    ]

    /// The page's policy: its own scripts, styles and images only (no inline script or style,
    /// nothing from elsewhere), connections back to its own origin (the WebSocket), images of
    /// received files from `blob:` URLs the page makes, and no framing by other sites.
    static let contentSecurityPolicy = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    static func register<Context: RequestContext>(on router: Router<Context>) {
        for file in files {
            let body = ByteBuffer(bytes: file.bytes)
            router.get(RouterPath(file.path)) { _, _ in
                var headers = securityHeaders
                headers[.contentType] = file.contentType
                // Revalidated every time: a new binary serves a new client at once.
                headers[.cacheControl] = "no-cache"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
        }
    }

    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        return headers
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
