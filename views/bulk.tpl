% if get('action') == 'confirm':
%   rebase('base', title='Delete the selected songs?')
<h1>Delete {{len(shown)}} song{{'' if len(shown) == 1 else 's'}}?</h1>
<ul class="selected">
%   for song, etag in shown:
  <li><a href="/songs/{{song['id']}}">{{song['title']}}</a> by {{song['artist']}}</li>
%   end
</ul>
<p>Each can be brought back from <a href="/songs/deleted">Recently deleted</a> afterwards.</p>
<form method="post" action="/songs/selected">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <input type="hidden" name="back" value="{{back}}">
  <input type="hidden" name="confirmed" value="1">
%   for song, etag in shown:
  <input type="hidden" name="pick-{{song['id']}}" value="1">
  <input type="hidden" name="etag-{{song['id']}}" value="{{etag.strip('"')}}">
%   end
  <button type="submit" name="action" value="delete" class="danger">Delete {{len(shown)}} song{{'' if len(shown) == 1 else 's'}}</button>
  <a href="{{back}}">Cancel</a>
</form>
% elif get('error'):
%   rebase('base', title='Nothing was changed')
<h1>Nothing was changed</h1>
<p class="error" role="alert">{{error}}</p>
<p><a href="{{back}}">Back to the list</a></p>
% else:
%   rebase('base', title='Selected songs')
%   count = len(done)
%   songs = f"{count} song{'' if count == 1 else 's'}"
<h1>{{'Deleted' if action == 'delete' else 'Rated'}} {{songs}}</h1>
<p role="status">
%   if action == 'delete':
  {{songs.capitalize()}} {{'was' if count == 1 else 'were'}} deleted. {{'It is' if count == 1 else 'They are'}} in <a href="/songs/deleted">Recently deleted</a>, where each can be brought back.
%   else:
  {{songs.capitalize()}} now {{'has' if count == 1 else 'have'}} the rating {{rating}}.
%   end
</p>
%   if refused:
<div class="error" role="alert">
  <p>{{len(refused)}} selected song{{' was' if len(refused) == 1 else 's were'}} left as {{'it was' if len(refused) == 1 else 'they were'}}, because {{'it' if len(refused) == 1 else 'they'}} changed after the page was shown:</p>
  <ul>
%     for song_id, song in refused:
%       if song:
    <li><a href="/songs/{{song_id}}">{{song['title']}}</a> by {{song['artist']}}, rated {{song['rating']}} now: open it to see what changed.</li>
%       else:
    <li>Song {{song_id}}, which someone deleted meanwhile.</li>
%       end
%     end
  </ul>
</div>
%   end
<p><a href="{{back}}">Back to the list</a></p>
% end
