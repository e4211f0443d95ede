/// A session's outbound state.
struct SessionOutput {
    /// Frames delivered since the last flush, gathered for one write.
    var gathered = DeliveryGathering()
    /// Feature `deflate`: frames both ways may be compressed, from the login acceptance on.
    var compressing = false
    /// Set once the last frame is written: nothing more is queued (a connection cut for its
    /// queue stops growing it).
    var closing = false
}
