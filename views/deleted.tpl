% rebase('base', title='Recently deleted')
<h1>Recently deleted</h1>
% if history_days:
<p>Songs deleted in the last {{history_days}} day{{'' if history_days == 1 else 's'}} and not brought back since, the latest first. Restore one to bring it back with its id.</p>
% else:
<p>Songs deleted and not brought back since, the latest first. Restore one to bring it back with its id.</p>
% end
% if deleted:
<div class="table">
<table class="songs">
  <caption class="visually-hidden">Deleted songs, the latest deletion first</caption>
  <thead>
    <tr><th scope="col">Title</th><th scope="col">Artist</th><th scope="col">Rating</th><th scope="col">Deleted (UTC)</th><th scope="col">By</th><th scope="col"><span class="visually-hidden">Restore</span></th></tr>
  </thead>
  <tbody>
% for song, at, actor in deleted:
    <tr><td>{{song['title']}}</td><td>{{song['artist']}}</td><td>{{song['rating']}}</td><td><time datetime="{{at}}">{{at[:10]}} {{at[11:16]}}</time></td><td>{{actor}}</td><td><form method="post" action="/songs/{{song['id']}}/restore" class="inline"><input type="hidden" name="csrf_token" value="{{csrf()}}"><button type="submit">Restore<span class="visually-hidden"> “{{song['title']}}”</span></button></form></td></tr>
% end
  </tbody>
</table>
</div>
% else:
<p>No song is waiting to be brought back.</p>
% end
% if older:
<nav class="pages" aria-label="Pages">
  <a href="{{older}}" rel="next">Deleted earlier</a>
</nav>
% end
