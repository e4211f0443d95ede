import ChatProtocol

/// Operator commands from a chat client (/Kick, /Ban, /Unban, /Bans, /Announce): refused with
/// an ERROR for anyone who is not an operator, run by the hub for those who are.
extension SessionHandler {
    func runOperatorCommand(_ command: ChatCommand, for user: User) {
        let word = OperatorCommandWords.name(of: command)
        guard hub.isOperator(key: user.key, authenticated: user.authenticated) else {
            logger.notice("\(user.name) tried /\(word) but is not an operator")
            sendError(
                "/\(word) is for operators, and you are not one. (Operators are named in the server's configuration and log in with the password of their registered name.)",
                counted: false)
            return
        }
        switch AdminRequest.parse(command) {
        case .failure(let usage):
            sendError(usage.text, counted: false)
        case .success(let request):
            switch hub.administer(request, by: .user(name: user.name, key: user.key, address: connection.address)) {
            case .lines(let lines): reply(lines, to: user)
            case .error(let text): sendError(text, counted: false)
            }
        }
    }
}

/// How the operator commands are spelled in messages.
enum OperatorCommandWords {
    static func name(of command: ChatCommand) -> String {
        switch command {
        case .kick: "Kick"
        case .ban: "Ban"
        case .unban: "Unban"
        case .bans: "Bans"
        case .announce: "Announce"
        default: "command"
        }
    }
}
