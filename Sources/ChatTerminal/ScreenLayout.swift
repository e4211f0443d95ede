/// Where everything goes on a screen of a given size:
///
/// ```
/// row 0          title bar
/// rows 1…n-4     messages                         │ user list (optional)
/// row n-3        window bar
/// row n-2        status bar
/// row n-1        input line
/// ```
/// Small screens drop the title bar, the user list, then the window bar; below a minimum
/// nothing fits.
public struct ScreenLayout: Sendable, Equatable {
    /// A rectangle of rows and columns.
    public struct Area: Sendable, Equatable {
        public var top: Int
        public var left: Int
        public var height: Int
        public var width: Int
    }

    public let rows: Int
    public let columns: Int
    public let title: Area?
    public let messages: Area
    /// The user list, with its rule in its first column.
    public let userList: Area?
    /// The windows' numbers, names and activity.
    public let windowBar: Area?
    public let status: Area
    public let input: Area

    /// The smallest screen the client draws on.
    public static let minimumRows = 4
    public static let minimumColumns = 20
    /// Columns the messages keep, at least, when the user list is shown.
    public static let minimumMessageColumns = 40

    /// Whether the screen is too small to draw anything useful.
    public var isTooSmall: Bool { rows < Self.minimumRows || columns < Self.minimumColumns }

    /// - Parameters:
    ///   - userListWanted: the user asked for the user list (it is shown when it fits).
    ///   - longestName: columns of the longest name in the list.
    public init(rows: Int, columns: Int, userListWanted: Bool, longestName: Int) {
        self.rows = max(rows, 0)
        self.columns = max(columns, 0)
        let hasTitle = rows >= 8
        title = hasTitle ? Area(top: 0, left: 0, height: 1, width: columns) : nil
        let top = hasTitle ? 1 : 0
        let hasWindowBar = rows >= 6
        windowBar = hasWindowBar ? Area(top: rows - 3, left: 0, height: 1, width: columns) : nil
        let paneHeight = max(rows - top - 2 - (hasWindowBar ? 1 : 0), 0)
        let listWidth = min(max(longestName, 8) + 3, 24)
        if userListWanted, columns - listWidth >= Self.minimumMessageColumns {
            messages = Area(top: top, left: 0, height: paneHeight, width: columns - listWidth)
            userList = Area(top: top, left: columns - listWidth, height: paneHeight, width: listWidth)
        } else {
            messages = Area(top: top, left: 0, height: paneHeight, width: columns)
            userList = nil
        }
        status = Area(top: max(rows - 2, 0), left: 0, height: 1, width: columns)
        input = Area(top: max(rows - 1, 0), left: 0, height: 1, width: columns)
    }
}
